"""Built-in tools that look facts up in the built-in world (tool_server.world): weather, currency and markets,
web and news search, language, geography. Part of the built-in catalog (tool_server.builtin).

Dates arrive as YYYY-MM-DD strings the schema's "date" format (SCHEMA_EXTRAS, tool_server.builtin) has already checked.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Literal

from tool_server.catalog import ToolCallFailure
from tool_server.world import CITIES, COUNTRIES, DEFINITIONS, DICTIONARY, DOCUMENTS, STOCKS, TODAY, USD_PER_UNIT

Currency = Literal["USD", "EUR", "GBP", "JPY", "AUD", "CAD", "EGP", "CHF"]
Units = Literal["metric", "imperial"]
Lang = Literal["en", "fr", "es", "de", "it", "ja"]


def _city(city: str) -> dict:
    if city not in CITIES:
        raise ToolCallFailure(f"no data for city '{city}'")
    return CITIES[city]


def _temp(celsius: float, units: str) -> float:
    return round(celsius * 9 / 5 + 32, 1) if units == "imperial" else celsius


# ---------------------------------------------------------------- weather
def get_weather_current(city: str, units: Units = "metric") -> dict:
    """Current weather in a city.

    Args:
        city: City name, e.g. Paris.
        units: metric (Celsius) or imperial (Fahrenheit).
    """
    c = _city(city)
    return {
        "city": city,
        "temperature": _temp(c["temp_c"], units),
        "units": units,
        "condition": c["condition"],
        "humidity": c["humidity"],
        "wind_kph": c["wind_kph"],
    }


def get_weather_forecast(city: str, days: int = 3, units: Units = "metric") -> dict:
    """Daily forecast for the next days in a city.

    Args:
        city: City name, e.g. Paris.
        days: Number of days to forecast, 1 to 7.
        units: metric (Celsius) or imperial (Fahrenheit).
    """
    c = _city(city)
    daily = [
        {
            "date": (TODAY + dt.timedelta(days=i + 1)).isoformat(),
            "high": _temp(c["temp_c"] + 2 + i % 3, units),
            "low": _temp(c["temp_c"] - 6 + i % 2, units),
        }
        for i in range(days)
    ]
    return {"city": city, "units": units, "days": daily}


def get_weather_history(city: str, date: str) -> dict:
    """Observed mean temperature (Celsius) in a city on a past date.

    Args:
        city: City name, e.g. Paris.
        date: Past date, YYYY-MM-DD.
    """
    c, day = _city(city), dt.date.fromisoformat(date)
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
    return {
        "from": from_currency,
        "to": to_currency,
        "rate": round(USD_PER_UNIT[from_currency] / USD_PER_UNIT[to_currency], 4),
    }


def get_exchange_rate_history(from_currency: Currency, to_currency: Currency, date: str) -> dict:
    """Exchange rate between two currencies on a past date.

    Args:
        from_currency: ISO code of the currency to convert from.
        to_currency: ISO code of the currency to convert to.
        date: Past date, YYYY-MM-DD.
    """
    drift = 1 + ((dt.date.fromisoformat(date).toordinal() % 11) - 5) / 1000
    return {
        "from": from_currency,
        "to": to_currency,
        "date": date,
        "rate": round(USD_PER_UNIT[from_currency] / USD_PER_UNIT[to_currency] * drift, 4),
    }


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


# ---------------------------------------------------------------- search over the built-in corpus
def _search(query: str, kind: str, max_results: int) -> dict:
    words = query.lower().split()
    hits = [
        {"id": i, "title": t, "snippet": x}
        for i, k, t, x in DOCUMENTS
        if k == kind and any(w in (t + " " + x).lower() for w in words)
    ]
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
