"""Services: the logic behind each command. They return typed results and never print."""
