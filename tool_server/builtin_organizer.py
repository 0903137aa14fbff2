"""Built-in tools of the user's organizer: dates and a calendar, a todo list, notes. Part of the built-in catalog
(tool_server.builtin).

The calendar, todos and notes are stateful: they live in the keyword-only `session` dict the server keeps per
session id. Dates arrive as YYYY-MM-DD strings the schema's "date" format (SCHEMA_EXTRAS, tool_server.builtin)
has already checked.
"""

from __future__ import annotations

import datetime as dt

from tool_server.catalog import ToolCallFailure
from tool_server.world import TODAY


# ---------------------------------------------------------------- calendar and dates
def get_current_date() -> dict:
    """Today's date."""
    return {"date": TODAY.isoformat(), "weekday": TODAY.strftime("%A")}


def get_day_of_week(date: str) -> dict:
    """Day of the week of a date.

    Args:
        date: Date, YYYY-MM-DD.
    """
    return {"date": date, "weekday": dt.date.fromisoformat(date).strftime("%A")}


def add_days_to_date(date: str, days: int) -> dict:
    """The date a number of days after (or before, if negative) a date.

    Args:
        date: Start date, YYYY-MM-DD.
        days: Days to add; negative goes back.
    """
    return {"date": (dt.date.fromisoformat(date) + dt.timedelta(days=days)).isoformat()}


def days_between_dates(start_date: str, end_date: str) -> dict:
    """Number of days from one date to another.

    Args:
        start_date: First date, YYYY-MM-DD.
        end_date: Second date, YYYY-MM-DD.
    """
    return {"days": (dt.date.fromisoformat(end_date) - dt.date.fromisoformat(start_date)).days}


def create_event(title: str, date: str, time: str = "09:00", *, session: dict) -> dict:
    """Add an event to the user's calendar.

    Args:
        title: Event title.
        date: Event date, YYYY-MM-DD.
        time: Start time, HH:MM (24h).
        session: State the server keeps for this session (not shown to the model).
    """
    events = session.setdefault("events", {})
    event_id = f"evt-{len(events) + 1}"
    events[event_id] = {"id": event_id, "title": title, "date": date, "time": time}
    return events[event_id]


def list_events(date: str, *, session: dict) -> dict:
    """List the calendar events on a date.

    Args:
        date: Date, YYYY-MM-DD.
        session: State the server keeps for this session (not shown to the model).
    """
    return {"date": date, "events": [e for e in session.get("events", {}).values() if e["date"] == date]}


def delete_event(event_id: str, *, session: dict) -> dict:
    """Delete a calendar event.

    Args:
        event_id: Id returned by create_event, e.g. evt-1.
        session: State the server keeps for this session (not shown to the model).
    """
    if event_id not in session.get("events", {}):
        raise ToolCallFailure(f"no event with id '{event_id}'")
    return {"deleted": session["events"].pop(event_id)["id"]}


# ---------------------------------------------------------------- todo list and notes (stateful)
def add_todo(title: str, due_date: str = "", *, session: dict) -> dict:
    """Add an item to the user's todo list.

    Args:
        title: What to do.
        due_date: Optional due date, YYYY-MM-DD.
        session: State the server keeps for this session (not shown to the model).
    """
    todos = session.setdefault("todos", {})
    todo_id = f"todo-{len(todos) + 1}"
    todos[todo_id] = {"id": todo_id, "title": title, "due_date": due_date, "done": False}
    return todos[todo_id]


def list_todos(include_done: bool = False, *, session: dict) -> dict:
    """List the user's todo items.

    Args:
        include_done: Also list completed items.
        session: State the server keeps for this session (not shown to the model).
    """
    return {"todos": [t for t in session.get("todos", {}).values() if include_done or not t["done"]]}


def complete_todo(todo_id: str, *, session: dict) -> dict:
    """Mark a todo item as done.

    Args:
        todo_id: Id returned by add_todo, e.g. todo-1.
        session: State the server keeps for this session (not shown to the model).
    """
    if todo_id not in session.get("todos", {}):
        raise ToolCallFailure(f"no todo with id '{todo_id}'")
    session["todos"][todo_id]["done"] = True
    return session["todos"][todo_id]


def add_note(title: str, body: str, *, session: dict) -> dict:
    """Save a note.

    Args:
        title: Note title.
        body: Note text.
        session: State the server keeps for this session (not shown to the model).
    """
    notes = session.setdefault("notes", {})
    note_id = f"note-{len(notes) + 1}"
    notes[note_id] = {"id": note_id, "title": title, "body": body}
    return {"id": note_id, "title": title}


def get_note(note_id: str, *, session: dict) -> dict:
    """Read a saved note.

    Args:
        note_id: Id returned by add_note, e.g. note-1.
        session: State the server keeps for this session (not shown to the model).
    """
    if note_id not in session.get("notes", {}):
        raise ToolCallFailure(f"no note with id '{note_id}'")
    return session["notes"][note_id]


def search_notes(query: str, *, session: dict) -> dict:
    """Find saved notes whose title or text contains a word.

    Args:
        query: Word to look for.
        session: State the server keeps for this session (not shown to the model).
    """
    q = query.lower()
    return {"notes": [n for n in session.get("notes", {}).values() if q in (n["title"] + " " + n["body"]).lower()]}
