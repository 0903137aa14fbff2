"""The built-in catalog: deterministic tools over small built-in data, so tasks can have checkable answers.

The tools live by domain in tool_server.builtin_lookup (weather, currency and markets, search, language,
geography), tool_server.builtin_compute (maths, unit conversion) and tool_server.builtin_organizer (calendar and
dates, todo list and notes); their data is in tool_server.world. This module assembles them: BUILTIN_TOOLS in
catalog order, SCHEMA_EXTRAS and builtin_catalog(); every built-in tool can be imported from here too.

A tool is a plain typed Python function whose Google-style docstring documents every argument; its OpenAI
schema comes from `transformers.utils.get_json_schema`, plus the JSON-schema keywords in SCHEMA_EXTRAS that a
signature cannot say (ranges, formats). Stateful tools take a keyword-only `session` dict, which the server keeps
per session id and never shows in the schema. A tool raises ToolCallFailure (tool_server.catalog) for a
well-formed call it cannot satisfy. Names share prefixes on purpose (get_weather_current / get_weather_forecast /
get_weather_history, convert_length / convert_currency ...): PKT is about those.
"""

from __future__ import annotations

import functools

from tool_server.builtin_compute import (
    add_numbers,
    convert_length,
    convert_temperature,
    convert_volume,
    convert_weight,
    divide_numbers,
    get_factorial,
    get_square_root,
    get_statistics,
    is_prime,
    multiply_numbers,
)
from tool_server.builtin_lookup import (
    convert_currency,
    detect_language,
    get_air_quality,
    get_city_local_time,
    get_city_population,
    get_country_info,
    get_distance_between_cities,
    get_document,
    get_exchange_rate,
    get_exchange_rate_history,
    get_stock_price,
    get_weather_current,
    get_weather_forecast,
    get_weather_history,
    get_word_definition,
    get_word_synonyms,
    list_currencies,
    search_news,
    search_web,
    translate_text,
)
from tool_server.builtin_organizer import (
    add_days_to_date,
    add_note,
    add_todo,
    complete_todo,
    create_event,
    days_between_dates,
    delete_event,
    get_current_date,
    get_day_of_week,
    get_note,
    list_events,
    list_todos,
    search_notes,
)
from tool_server.catalog import Catalog

# The catalog order (the order of GET /tools), by domain: keep it stable.
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
]  # fmt: skip

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


@functools.cache
def builtin_catalog() -> Catalog:
    """The built-in catalog (BUILTIN_TOOLS with SCHEMA_EXTRAS), built once per process."""
    return Catalog.from_functions(BUILTIN_TOOLS, SCHEMA_EXTRAS)
