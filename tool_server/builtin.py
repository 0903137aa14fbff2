"""The built-in catalog: deterministic tools over small built-in data, so tasks can have checkable answers.

A tool is a plain typed Python function whose Google-style docstring documents every argument; its OpenAI
schema comes from `transformers.utils.get_json_schema`, plus the JSON-schema keywords in SCHEMA_EXTRAS that a
signature cannot say (ranges, formats). Stateful tools take a keyword-only `session` dict, which the server keeps
per session id and never shows in the schema. Names share prefixes on purpose (get_weather_current /
get_weather_forecast / get_weather_history, convert_length / convert_currency ...): PKT is about those.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from typing import Literal

from tool_server.world import (
    CITIES,
    COUNTRIES,
    DEFINITIONS,
    DICTIONARY,
    DOCUMENTS,
    LENGTH_M,
    STOCKS,
    TODAY,
    USD_PER_UNIT,
    VOLUME_L,
    WEIGHT_KG,
)


class ToolCallFailure(Exception):
    """A well-formed call the tool cannot satisfy (unknown city, division by zero, missing record...)."""


Currency = Literal["USD", "EUR", "GBP", "JPY", "AUD", "CAD", "EGP", "CHF"]
Units = Literal["metric", "imperial"]
Lang = Literal["en", "fr", "es", "de", "it", "ja"]


def _city(city: str) -> dict:
    if city not in CITIES:
        raise ToolCallFailure(f"no data for city '{city}'")
    return CITIES[city]


def _temp(celsius: float, units: str) -> float:
    return round(celsius * 9 / 5 + 32, 1) if units == "imperial" else celsius


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)  # the schema's "date" format has already checked it


# ---------------------------------------------------------------- weather
def get_weather_current(city: str, units: Units = "metric") -> dict:
    """Current weather in a city.

    Args:
        city: City name, e.g. Paris.
        units: metric (Celsius) or imperial (Fahrenheit).
    """
    c = _city(city)
    return {"city": city, "temperature": _temp(c["temp_c"], units), "units": units, "condition": c["condition"],
            "humidity": c["humidity"], "wind_kph": c["wind_kph"]}


def get_weather_forecast(city: str, days: int = 3, units: Units = "metric") -> dict:
    """Daily forecast for the next days in a city.

    Args:
        city: City name, e.g. Paris.
        days: Number of days to forecast, 1 to 7.
        units: metric (Celsius) or imperial (Fahrenheit).
    """
    c = _city(city)
    daily = [{"date": (TODAY + dt.timedelta(days=i + 1)).isoformat(), "high": _temp(c["temp_c"] + 2 + i % 3, units),
              "low": _temp(c["temp_c"] - 6 + i % 2, units)} for i in range(days)]
    return {"city": city, "units": units, "days": daily}


def get_weather_history(city: str, date: str) -> dict:
    """Observed mean temperature (Celsius) in a city on a past date.

    Args:
        city: City name, e.g. Paris.
        date: Past date, YYYY-MM-DD.
    """
    c, day = _city(city), _date(date)
    if day >= TODAY:
        raise ToolCallFailure(f"no history for {date}: the date is not in the past")
    return {"city": city, "date": date, "mean_temperature": round(c["temp_c"] - (day.toordinal() % 7), 1)}


def get_air_quality(city: str) -> dict:
    """Air quality index (AQI) of a city.

    Args:
        city: City name, e.g. Paris.
    """
    aqi = _city(city)["aqi"]
    return {"city": city, "aqi": aqi, "level": "good" if aqi <= 50 else "moderate"}


# ---------------------------------------------------------------- currency and markets
def get_exchange_rate(from_currency: Currency, to_currency: Currency) -> dict:
    """Today's exchange rate between two currencies.

    Args:
        from_currency: ISO code of the currency to convert from.
        to_currency: ISO code of the currency to convert to.
    """
    return {"from": from_currency, "to": to_currency,
            "rate": round(USD_PER_UNIT[from_currency] / USD_PER_UNIT[to_currency], 4)}


def get_exchange_rate_history(from_currency: Currency, to_currency: Currency, date: str) -> dict:
    """Exchange rate between two currencies on a past date.

    Args:
        from_currency: ISO code of the currency to convert from.
        to_currency: ISO code of the currency to convert to.
        date: Past date, YYYY-MM-DD.
    """
    drift = 1 + ((_date(date).toordinal() % 11) - 5) / 1000
    return {"from": from_currency, "to": to_currency, "date": date,
            "rate": round(USD_PER_UNIT[from_currency] / USD_PER_UNIT[to_currency] * drift, 4)}


def convert_currency(amount: float, from_currency: Currency, to_currency: Currency) -> dict:
    """Convert an amount of money at today's rate.

    Args:
        amount: Amount to convert, not negative.
        from_currency: ISO code of the currency to convert from.
        to_currency: ISO code of the currency to convert to.
    """
    rate = round(USD_PER_UNIT[from_currency] / USD_PER_UNIT[to_currency], 4)
    return {"amount": amount, "from": from_currency, "to": to_currency, "result": round(amount * rate, 2)}


def list_currencies() -> dict:
    """List the supported currency codes."""
    return {"currencies": sorted(USD_PER_UNIT)}


def get_stock_price(symbol: str) -> dict:
    """Latest price of a stock in USD.

    Args:
        symbol: Ticker symbol, e.g. ACME.
    """
    if symbol not in STOCKS:
        raise ToolCallFailure(f"unknown symbol '{symbol}'")
    return {"symbol": symbol, "price": STOCKS[symbol], "currency": "USD"}


# ---------------------------------------------------------------- calendar and dates
def get_current_date() -> dict:
    """Today's date."""
    return {"date": TODAY.isoformat(), "weekday": TODAY.strftime("%A")}


def get_day_of_week(date: str) -> dict:
    """Day of the week of a date.

    Args:
        date: Date, YYYY-MM-DD.
    """
    return {"date": date, "weekday": _date(date).strftime("%A")}


def add_days_to_date(date: str, days: int) -> dict:
    """The date a number of days after (or before, if negative) a date.

    Args:
        date: Start date, YYYY-MM-DD.
        days: Days to add; negative goes back.
    """
    return {"date": (_date(date) + dt.timedelta(days=days)).isoformat()}


def days_between_dates(start_date: str, end_date: str) -> dict:
    """Number of days from one date to another.

    Args:
        start_date: First date, YYYY-MM-DD.
        end_date: Second date, YYYY-MM-DD.
    """
    return {"days": (_date(end_date) - _date(start_date)).days}


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


# ---------------------------------------------------------------- maths
def add_numbers(a: float, b: float) -> dict:
    """Sum of two numbers.

    Args:
        a: First number.
        b: Second number.
    """
    return {"result": a + b}


def multiply_numbers(a: float, b: float) -> dict:
    """Product of two numbers.

    Args:
        a: First number.
        b: Second number.
    """
    return {"result": a * b}


def divide_numbers(dividend: float, divisor: float) -> dict:
    """Quotient of two numbers.

    Args:
        dividend: Number to divide.
        divisor: Number to divide by, not zero.
    """
    if divisor == 0:
        raise ToolCallFailure("division by zero")
    return {"result": round(dividend / divisor, 6)}


def get_square_root(x: float) -> dict:
    """Square root of a number.

    Args:
        x: A number, not negative.
    """
    return {"result": round(math.sqrt(x), 6)}


def get_factorial(n: int) -> dict:
    """Factorial of a whole number.

    Args:
        n: A whole number from 0 to 20.
    """
    return {"result": math.factorial(n)}


def get_statistics(numbers: list[float]) -> dict:
    """Mean, median, minimum and maximum of a list of numbers.

    Args:
        numbers: The numbers, at least one.
    """
    return {"mean": round(statistics.fmean(numbers), 6), "median": statistics.median(numbers),
            "min": min(numbers), "max": max(numbers)}


def is_prime(n: int) -> dict:
    """Whether a whole number is prime.

    Args:
        n: A whole number, at least 1.
    """
    return {"n": n, "prime": n > 1 and all(n % k for k in range(2, math.isqrt(n) + 1))}


# ---------------------------------------------------------------- search over the built-in corpus
def _search(query: str, kind: str, max_results: int) -> dict:
    words = query.lower().split()
    hits = [{"id": i, "title": t, "snippet": x} for i, k, t, x in DOCUMENTS
            if k == kind and any(w in (t + " " + x).lower() for w in words)]
    return {"query": query, "results": hits[:max_results]}


def search_web(query: str, max_results: int = 3) -> dict:
    """Search web pages of the built-in corpus.

    Args:
        query: Search words.
        max_results: Number of results, 1 to 10.
    """
    return _search(query, "web", max_results)


def search_news(query: str, max_results: int = 3) -> dict:
    """Search news articles of the built-in corpus.

    Args:
        query: Search words.
        max_results: Number of results, 1 to 10.
    """
    return _search(query, "news", max_results)


def get_document(doc_id: str) -> dict:
    """Full text of a document found by search_web or search_news.

    Args:
        doc_id: Document id, e.g. doc-3.
    """
    for i, _, title, text in DOCUMENTS:
        if i == doc_id:
            return {"id": i, "title": title, "text": text}
    raise ToolCallFailure(f"no document with id '{doc_id}'")


# ---------------------------------------------------------------- language
def translate_text(text: str, target_lang: Lang, source_lang: Lang = "en") -> dict:
    """Translate a word or short phrase with the built-in dictionary.

    Args:
        text: Word or phrase to translate.
        target_lang: Language to translate into.
        source_lang: Language of the text; only en is supported.
    """
    entry = DICTIONARY.get(text.lower().strip())
    if source_lang != "en" or entry is None or target_lang not in entry:
        raise ToolCallFailure(f"no translation of '{text}' from {source_lang} to {target_lang}")
    return {"text": text, "translation": entry[target_lang], "target_lang": target_lang}


def detect_language(text: str) -> dict:
    """Language of a word from the built-in dictionary.

    Args:
        text: A word or phrase.
    """
    word = text.lower().strip()
    for english, translations in DICTIONARY.items():
        if word == english:
            return {"text": text, "language": "en"}
        for lang, translation in translations.items():
            if word == translation.lower():
                return {"text": text, "language": lang}
    raise ToolCallFailure(f"cannot detect the language of '{text}'")


def get_word_definition(word: str) -> dict:
    """Dictionary definition of an English word.

    Args:
        word: The word.
    """
    if word.lower() not in DEFINITIONS:
        raise ToolCallFailure(f"no definition for '{word}'")
    return {"word": word, "definition": DEFINITIONS[word.lower()][0]}


def get_word_synonyms(word: str) -> dict:
    """Synonyms of an English word.

    Args:
        word: The word.
    """
    if word.lower() not in DEFINITIONS:
        raise ToolCallFailure(f"no synonyms for '{word}'")
    return {"word": word, "synonyms": DEFINITIONS[word.lower()][1]}


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


# ---------------------------------------------------------------- unit conversion
def _convert(value: float, from_unit: str, to_unit: str, table: dict[str, float]) -> dict:
    return {"value": value, "from_unit": from_unit, "to_unit": to_unit,
            "result": round(value * table[from_unit] / table[to_unit], 4)}


def convert_length(value: float, from_unit: Literal["mm", "cm", "m", "km", "in", "ft", "mi"],
                   to_unit: Literal["mm", "cm", "m", "km", "in", "ft", "mi"]) -> dict:
    """Convert a length between units.

    Args:
        value: The length.
        from_unit: Unit of the value.
        to_unit: Unit to convert to.
    """
    return _convert(value, from_unit, to_unit, LENGTH_M)


def convert_weight(value: float, from_unit: Literal["g", "kg", "lb", "oz"],
                   to_unit: Literal["g", "kg", "lb", "oz"]) -> dict:
    """Convert a weight between units.

    Args:
        value: The weight.
        from_unit: Unit of the value.
        to_unit: Unit to convert to.
    """
    return _convert(value, from_unit, to_unit, WEIGHT_KG)


def convert_volume(value: float, from_unit: Literal["ml", "l", "gal", "cup"],
                   to_unit: Literal["ml", "l", "gal", "cup"]) -> dict:
    """Convert a volume between units.

    Args:
        value: The volume.
        from_unit: Unit of the value.
        to_unit: Unit to convert to.
    """
    return _convert(value, from_unit, to_unit, VOLUME_L)


def convert_temperature(value: float, from_unit: Literal["C", "F", "K"], to_unit: Literal["C", "F", "K"]) -> dict:
    """Convert a temperature between Celsius, Fahrenheit and Kelvin.

    Args:
        value: The temperature.
        from_unit: Unit of the value.
        to_unit: Unit to convert to.
    """
    celsius = {"C": value, "F": (value - 32) * 5 / 9, "K": value - 273.15}[from_unit]
    result = {"C": celsius, "F": celsius * 9 / 5 + 32, "K": celsius + 273.15}[to_unit]
    return {"value": value, "from_unit": from_unit, "to_unit": to_unit, "result": round(result, 2)}


# ---------------------------------------------------------------- geography
def get_country_info(country: str) -> dict:
    """Capital, currency, language and population of a country.

    Args:
        country: Country name in English, e.g. France.
    """
    if country not in COUNTRIES:
        raise ToolCallFailure(f"no data for country '{country}'")
    return {"country": country, **COUNTRIES[country]}


def get_city_population(city: str) -> dict:
    """Population of a city.

    Args:
        city: City name, e.g. Paris.
    """
    return {"city": city, "population": _city(city)["population"]}


def get_city_local_time(city: str) -> dict:
    """Local time and UTC offset of a city, now (12:00 UTC in the built-in world).

    Args:
        city: City name, e.g. Tokyo.
    """
    offset = _city(city)["utc_offset"]
    return {"city": city, "utc_offset": offset, "local_time": f"{(12 + offset) % 24:02d}:00"}


def get_distance_between_cities(city_a: str, city_b: str) -> dict:
    """Great-circle distance between two cities in kilometres.

    Args:
        city_a: First city.
        city_b: Second city.
    """
    a, b = _city(city_a), _city(city_b)
    la, lb, dlon = math.radians(a["lat"]), math.radians(b["lat"]), math.radians(b["lon"] - a["lon"])
    cos_angle = math.sin(la) * math.sin(lb) + math.cos(la) * math.cos(lb) * math.cos(dlon)
    return {"city_a": city_a, "city_b": city_b, "km": round(6371 * math.acos(max(-1.0, min(1.0, cos_angle))))}


BUILTIN_TOOLS = [
    get_weather_current, get_weather_forecast, get_weather_history, get_air_quality,
    get_exchange_rate, get_exchange_rate_history, convert_currency, list_currencies, get_stock_price,
    get_current_date, get_day_of_week, add_days_to_date, days_between_dates, create_event, list_events, delete_event,
    add_numbers, multiply_numbers, divide_numbers, get_square_root, get_factorial, get_statistics, is_prime,
    search_web, search_news, get_document,
    translate_text, detect_language, get_word_definition, get_word_synonyms,
    add_todo, list_todos, complete_todo, add_note, get_note, search_notes,
    convert_length, convert_weight, convert_volume, convert_temperature,
    get_country_info, get_city_population, get_city_local_time, get_distance_between_cities,
]

_DATE = {"format": "date"}
SCHEMA_EXTRAS: dict[str, dict[str, dict]] = {
    "get_weather_forecast": {"days": {"minimum": 1, "maximum": 7}},
    "get_weather_history": {"date": _DATE},
    "get_exchange_rate_history": {"date": _DATE},
    "convert_currency": {"amount": {"minimum": 0}},
    "get_day_of_week": {"date": _DATE},
    "add_days_to_date": {"date": _DATE},
    "days_between_dates": {"start_date": _DATE, "end_date": _DATE},
    "create_event": {"date": _DATE, "time": {"pattern": r"^([01]\d|2[0-3]):[0-5]\d$"}},
    "list_events": {"date": _DATE},
    "get_square_root": {"x": {"minimum": 0}},
    "get_factorial": {"n": {"minimum": 0, "maximum": 20}},
    "get_statistics": {"numbers": {"minItems": 1}},
    "is_prime": {"n": {"minimum": 1, "maximum": 10**12}},  # trial division: bounded so a call stays fast
    "search_web": {"max_results": {"minimum": 1, "maximum": 10}},
    "search_news": {"max_results": {"minimum": 1, "maximum": 10}},
}
