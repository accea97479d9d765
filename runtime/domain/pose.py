"""Pose/SMPL fitting interface. Real fitting is out of scope (the ECS SMPL processor owns
it); the default implementation says plainly, in its result, that it is a placeholder."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class PoseFit:
    estimator: str
    placeholder: bool
    keypoints: tuple[tuple[float, float], ...] = ()
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["keypoints"] = [list(p) for p in self.keypoints]
        return data


class PoseEstimator(Protocol):
    def estimate(self, *, avatar_ref: str, garment_ref: str) -> PoseFit: ...


class PlaceholderPoseEstimator:
    """Returns a fixed, neutral pose. It fits nothing, and says so."""

    name = "placeholder"

    def estimate(self, *, avatar_ref: str, garment_ref: str) -> PoseFit:
        return PoseFit(
            estimator=self.name,
            placeholder=True,
            keypoints=((0.5, 0.1), (0.5, 0.3), (0.35, 0.3), (0.65, 0.3), (0.5, 0.6)),
            notes="placeholder fitter: no pose or SMPL fitting was performed",
        )
