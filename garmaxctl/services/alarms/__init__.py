"""``garmaxctl alarms``: the stage's CloudWatch alarms (docs/alarms.md).

- :func:`list_alarms`, :func:`show_alarm`, :func:`alarm_history` (``view.py``): state,
  configuration in words, history, flapping;
- :func:`prove_notification` (``notify.py``): ``alarms test``;
- :func:`mute`, :func:`unmute` (``mute.py``): alarm mute rules.
"""

from garmaxctl.services.alarms.mute import MuteResult, MuteRow, mute, unmute
from garmaxctl.services.alarms.notify import AlarmTest, prove_notification
from garmaxctl.services.alarms.view import (
    Actions,
    AlarmDetail,
    AlarmHistory,
    AlarmList,
    AlarmRow,
    Flapping,
    HistoryEvent,
    alarm_history,
    condition_words,
    list_alarms,
    show_alarm,
)

__all__ = ["Actions", "AlarmDetail", "AlarmHistory", "AlarmList", "AlarmRow", "AlarmTest",
           "Flapping", "HistoryEvent", "MuteResult", "MuteRow", "alarm_history",
           "condition_words", "list_alarms", "mute", "prove_notification", "show_alarm",
           "unmute"]
