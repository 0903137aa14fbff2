"""The built-in task suite of ToolUse-v0: several hundred single- and multi-step tasks over the built-in catalog.

Gold answers are computed by calling the built-in tools themselves, so a gold answer can never drift from what the
tool server returns; every task offers the whole family of each gold tool (names sharing a prefix), so the model
must tell get_weather_current from get_weather_forecast.
"""

from __future__ import annotations

import copy
import random
from functools import lru_cache

from envs.tasks import Task
from tool_server import ToolServer
from tool_server import builtin as b
from tool_server import world as w


def _call(fn, **arguments) -> dict:
    return {"name": fn.__name__, "arguments": arguments}


# Tool families whose names share a prefix: every task offers the whole family of each gold tool, so the model
# must tell get_weather_current from get_weather_forecast (what PKT weighs).
_FAMILIES = [
    ["get_weather_current", "get_weather_forecast", "get_weather_history"],
    ["get_exchange_rate", "get_exchange_rate_history"],
    ["convert_currency", "convert_length", "convert_weight", "convert_volume", "convert_temperature"],
    ["get_city_population", "get_city_local_time", "get_country_info"],
    ["search_web", "search_news", "search_notes"],
    ["get_word_definition", "get_word_synonyms"],
    ["add_numbers", "multiply_numbers", "divide_numbers"],
    ["get_day_of_week", "get_current_date", "add_days_to_date", "days_between_dates"],
    ["add_todo", "add_note", "list_todos"],
]


def _single_step() -> list[tuple[str, list[dict], str]]:
    """(query, gold calls, answer) for tasks one call answers."""
    out = []
    for city, c in w.CITIES.items():
        out.append(
            (
                f"What is the temperature in {city} right now, in Celsius?",
                [_call(b.get_weather_current, city=city)],
                str(c["temp_c"]),
            )
        )
        out.append(
            (
                f"How warm is it in {city} now in Fahrenheit?",
                [_call(b.get_weather_current, city=city, units="imperial")],
                str(b.get_weather_current(city, "imperial")["temperature"]),
            )
        )
        for days in (2, 5):
            highs = b.get_weather_forecast(city, days)["days"]
            out.append(
                (
                    f"What is the highest temperature forecast in {city} over the next {days} days?",
                    [_call(b.get_weather_forecast, city=city, days=days)],
                    str(max(d["high"] for d in highs)),
                )
            )
        out.append(
            (
                f"What was the mean temperature in {city} on 2024-05-20?",
                [_call(b.get_weather_history, city=city, date="2024-05-20")],
                str(b.get_weather_history(city, "2024-05-20")["mean_temperature"]),
            )
        )
        tomorrow = b.get_weather_forecast(city, 1, "imperial")["days"][0]["high"]
        out.append(
            (
                f"What is tomorrow's forecast high in {city}, in Fahrenheit?",
                [_call(b.get_weather_forecast, city=city, days=1, units="imperial")],
                str(tomorrow),
            )
        )
        out.append((f"What is the air quality index in {city}?", [_call(b.get_air_quality, city=city)], str(c["aqi"])))
        out.append(
            (f"How many people live in {city}?", [_call(b.get_city_population, city=city)], str(c["population"]))
        )
        out.append(
            (
                f"What time is it in {city} now?",
                [_call(b.get_city_local_time, city=city)],
                b.get_city_local_time(city)["local_time"],
            )
        )
    for src, dst in [
        ("EUR", "GBP"),
        ("USD", "JPY"),
        ("GBP", "CAD"),
        ("AUD", "EUR"),
        ("CHF", "USD"),
        ("EGP", "EUR"),
        ("JPY", "EUR"),
        ("CAD", "USD"),
        ("EUR", "CHF"),
        ("GBP", "AUD"),
    ]:
        out.append(
            (
                f"What is today's exchange rate from {src} to {dst}?",
                [_call(b.get_exchange_rate, from_currency=src, to_currency=dst)],
                str(b.get_exchange_rate(src, dst)["rate"]),
            )
        )
        out.append(
            (
                f"What was the {src} to {dst} exchange rate on 2024-01-15?",
                [_call(b.get_exchange_rate_history, from_currency=src, to_currency=dst, date="2024-01-15")],
                str(b.get_exchange_rate_history(src, dst, "2024-01-15")["rate"]),
            )
        )
        for amount in (100, 2500):
            out.append(
                (
                    f"Convert {amount} {src} to {dst}.",
                    [_call(b.convert_currency, amount=amount, from_currency=src, to_currency=dst)],
                    str(b.convert_currency(amount, src, dst)["result"]),
                )
            )
    for symbol, price in w.STOCKS.items():
        out.append(
            (f"What is the latest stock price of {symbol}?", [_call(b.get_stock_price, symbol=symbol)], str(price))
        )
    for date in ("2024-07-14", "2025-01-01", "2023-12-25", "2024-02-29"):
        out.append(
            (
                f"What day of the week is {date}?",
                [_call(b.get_day_of_week, date=date)],
                b.get_day_of_week(date)["weekday"],
            )
        )
        out.append(
            (
                f"What date is 100 days after {date}?",
                [_call(b.add_days_to_date, date=date, days=100)],
                b.add_days_to_date(date, 100)["date"],
            )
        )
        out.append(
            (
                f"How many days are there from {date} to 2026-01-01?",
                [_call(b.days_between_dates, start_date=date, end_date="2026-01-01")],
                str(b.days_between_dates(date, "2026-01-01")["days"]),
            )
        )
    for x, y in [(17, 25), (3.5, 8), (1234, 5678), (-12, 7.25), (99, 101)]:
        out.append((f"What is {x} plus {y}?", [_call(b.add_numbers, a=x, b=y)], str(x + y)))
        out.append((f"Multiply {x} by {y}.", [_call(b.multiply_numbers, a=x, b=y)], str(x * y)))
        out.append(
            (
                f"Divide {x} by {y}.",
                [_call(b.divide_numbers, dividend=x, divisor=y)],
                str(b.divide_numbers(x, y)["result"]),
            )
        )
    for n in (2, 10, 49, 97, 144, 7919):
        out.append(
            (f"What is the square root of {n}?", [_call(b.get_square_root, x=n)], str(b.get_square_root(n)["result"]))
        )
        out.append(
            (
                f"Is {n} a prime number? Answer yes or no.",
                [_call(b.is_prime, n=n)],
                "yes" if b.is_prime(n)["prime"] else "no",
            )
        )
    for n in (5, 10, 15, 20):
        out.append((f"What is {n} factorial?", [_call(b.get_factorial, n=n)], str(b.get_factorial(n)["result"])))
    for numbers in ([3, 1, 4, 1, 5, 9, 2, 6], [10, 20, 30], [2.5, 3.5, 10.0, 4.0]):
        out.append(
            (
                f"What is the median of {numbers}?",
                [_call(b.get_statistics, numbers=numbers)],
                str(b.get_statistics(numbers)["median"]),
            )
        )
    for word, translations in w.DICTIONARY.items():
        for lang, name in [("fr", "French"), ("es", "Spanish"), ("de", "German"), ("ja", "Japanese")]:
            out.append(
                (
                    f"How do you say '{word}' in {name}?",
                    [_call(b.translate_text, text=word, target_lang=lang)],
                    translations[lang],
                )
            )
    for word, (definition, synonyms) in w.DEFINITIONS.items():
        out.append((f"What does '{word}' mean?", [_call(b.get_word_definition, word=word)], definition))
        out.append((f"Give me a synonym of '{word}'.", [_call(b.get_word_synonyms, word=word)], synonyms[0]))
    for country, info in w.COUNTRIES.items():
        out.append(
            (f"What is the capital of {country}?", [_call(b.get_country_info, country=country)], info["capital"])
        )
        out.append(
            (f"Which currency does {country} use?", [_call(b.get_country_info, country=country)], info["currency"])
        )
    conversions = [
        (b.convert_length, 5, "km", "mi"),
        (b.convert_length, 180, "cm", "ft"),
        (b.convert_length, 26.2, "mi", "km"),
        (b.convert_weight, 70, "kg", "lb"),
        (b.convert_weight, 16, "oz", "g"),
        (b.convert_volume, 2, "gal", "l"),
        (b.convert_volume, 3, "cup", "ml"),
        (b.convert_temperature, 100, "F", "C"),
        (b.convert_temperature, 300, "K", "F"),
        (b.convert_temperature, 37, "C", "F"),
    ]
    for fn, value, src, dst in conversions:
        out.append(
            (
                f"Convert {value} {src} to {dst}.",
                [_call(fn, value=value, from_unit=src, to_unit=dst)],
                str(fn(value, src, dst)["result"]),
            )
        )
    return out


def _multi_step() -> list[tuple[str, list[dict], str]]:
    """(query, gold calls, answer) for tasks that chain two or more calls."""
    out = []
    for city, c in w.CITIES.items():
        kelvin = b.convert_temperature(c["temp_c"], "C", "K")["result"]
        out.append(
            (
                f"What is the current temperature in {city} in Kelvin?",
                [
                    _call(b.get_weather_current, city=city),
                    _call(b.convert_temperature, value=c["temp_c"], from_unit="C", to_unit="K"),
                ],
                str(kelvin),
            )
        )
        other = "Tokyo" if city != "Tokyo" else "Paris"
        out.append(
            (
                f"How far is {city} from {other} in miles?",
                [
                    _call(b.get_distance_between_cities, city_a=city, city_b=other),
                    _call(
                        b.convert_length,
                        value=b.get_distance_between_cities(city, other)["km"],
                        from_unit="km",
                        to_unit="mi",
                    ),
                ],
                str(b.convert_length(b.get_distance_between_cities(city, other)["km"], "km", "mi")["result"]),
            )
        )
        currency = w.COUNTRIES[c["country"]]["currency"]
        if currency in w.USD_PER_UNIT and currency != "USD":
            out.append(
                (
                    f"How much is 50 US dollars in the currency of {c['country']}?",
                    [
                        _call(b.get_country_info, country=c["country"]),
                        _call(b.convert_currency, amount=50, from_currency="USD", to_currency=currency),
                    ],
                    str(b.convert_currency(50, "USD", currency)["result"]),
                )
            )
    names = list(w.CITIES)
    for city, other in zip(names, names[1:] + names[:1]):
        warmer = max((city, other), key=lambda n: w.CITIES[n]["temp_c"])
        if w.CITIES[city]["temp_c"] != w.CITIES[other]["temp_c"]:
            out.append(
                (
                    f"Which is warmer right now, {city} or {other}?",
                    [_call(b.get_weather_current, city=city), _call(b.get_weather_current, city=other)],
                    warmer,
                )
            )
        gap = abs(w.CITIES[city]["population"] - w.CITIES[other]["population"])
        out.append(
            (
                f"How many more people live in the bigger of {city} and {other}?",
                [_call(b.get_city_population, city=city), _call(b.get_city_population, city=other)],
                str(gap),
            )
        )
    for query, doc_id, answer in [
        ("Eiffel Tower", "doc-3", "330"),
        ("Everest", "doc-4", "8849"),
        ("light", "doc-5", "299792"),
        ("Great Wall", "doc-6", "21000"),
    ]:
        out.append(
            (
                f"Search the web for the {query} and tell me the key number in the article.",
                [_call(b.search_web, query=query), _call(b.get_document, doc_id=doc_id)],
                answer,
            )
        )
    for query, doc_id, answer in [
        ("rate", "news-1", "4.5"),
        ("Tokyo marathon", "news-2", "2 hours 2 minutes"),
        ("solar", "news-3", "500"),
        ("museum", "news-4", "Pergamon"),
    ]:
        out.append(
            (
                f"Find the news about {query} and tell me the key fact.",
                [_call(b.search_news, query=query), _call(b.get_document, doc_id=doc_id)],
                answer,
            )
        )
    for i, title in enumerate(["buy milk", "call the bank", "book flights", "water the plants", "renew passport"]):
        due = f"2024-06-{10 + i}"
        out.append(
            (
                f"Add '{title}' to my todo list, due {due}, then show me my open todos.",
                [_call(b.add_todo, title=title, due_date=due), _call(b.list_todos)],
                title,
            )
        )
        out.append(
            (
                f"Put '{title}' on my calendar on {due} at 14:00, then list that day's events.",
                [_call(b.create_event, title=title, date=due, time="14:00"), _call(b.list_events, date=due)],
                "14:00",
            )
        )
        out.append(
            (
                f"Save a note titled '{title}' saying 'urgent', then search my notes for '{title.split()[-1]}'.",
                [_call(b.add_note, title=title, body="urgent"), _call(b.search_notes, query=title.split()[-1])],
                "urgent",
            )
        )
    for date in ("2024-06-03", "2024-12-24"):
        later = b.add_days_to_date(date, 30)["date"]
        out.append(
            (
                f"What day of the week will it be 30 days after {date}?",
                [_call(b.add_days_to_date, date=date, days=30), _call(b.get_day_of_week, date=later)],
                b.get_day_of_week(later)["weekday"],
            )
        )
    return out


@lru_cache(maxsize=1)
def builtin_tasks() -> tuple[Task, ...]:
    """The built-in suite: several hundred single- and multi-step tasks over the built-in catalog. Built once per
    process and shared by every caller (envs are created per episode): read the tasks, never change them."""
    schemas = {t["name"]: t for t in ToolServer().tools()}
    rng = random.Random(0)  # distractors are fixed: the suite is the same on every machine
    tasks = []
    for i, (query, gold, answer) in enumerate(_single_step() + _multi_step()):
        names = {call["name"] for call in gold}
        for family in _FAMILIES:
            if names & set(family):
                names |= set(family)
        names |= set(rng.sample(sorted(schemas), 3))
        tools = copy.deepcopy([schemas[n] for n in sorted(names)])
        tasks.append(Task(f"builtin-{i}", query, tools, gold, answer, scenario="multi" if len(gold) > 1 else "single"))
    return tuple(tasks)
