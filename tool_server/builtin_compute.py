"""Built-in tools that compute: arithmetic and statistics, and unit conversion (with the unit tables of
tool_server.world). Part of the built-in catalog (tool_server.builtin).
"""

from __future__ import annotations

import math
import statistics
from typing import Literal

from tool_server.catalog import ToolCallFailure
from tool_server.world import LENGTH_M, VOLUME_L, WEIGHT_KG


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
    return {
        "mean": round(statistics.fmean(numbers), 6),
        "median": statistics.median(numbers),
        "min": min(numbers),
        "max": max(numbers),
    }


def is_prime(n: int) -> dict:
    """Whether a whole number is prime.

    Args:
        n: A whole number, at least 1.
    """
    return {"n": n, "prime": n > 1 and all(n % k for k in range(2, math.isqrt(n) + 1))}


# ---------------------------------------------------------------- unit conversion
def _convert(value: float, from_unit: str, to_unit: str, table: dict[str, float]) -> dict:
    return {
        "value": value,
        "from_unit": from_unit,
        "to_unit": to_unit,
        "result": round(value * table[from_unit] / table[to_unit], 4),
    }


def convert_length(
    value: float,
    from_unit: Literal["mm", "cm", "m", "km", "in", "ft", "mi"],
    to_unit: Literal["mm", "cm", "m", "km", "in", "ft", "mi"],
) -> dict:
    """Convert a length between units.

    Args:
        value: The length.
        from_unit: Unit of the value.
        to_unit: Unit to convert to.
    """
    return _convert(value, from_unit, to_unit, LENGTH_M)


def convert_weight(
    value: float, from_unit: Literal["g", "kg", "lb", "oz"], to_unit: Literal["g", "kg", "lb", "oz"]
) -> dict:
    """Convert a weight between units.

    Args:
        value: The weight.
        from_unit: Unit of the value.
        to_unit: Unit to convert to.
    """
    return _convert(value, from_unit, to_unit, WEIGHT_KG)


def convert_volume(
    value: float, from_unit: Literal["ml", "l", "gal", "cup"], to_unit: Literal["ml", "l", "gal", "cup"]
) -> dict:
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
