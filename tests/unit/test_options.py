"""The option table: size parsing, validation messages, camelCase, precedence."""

from __future__ import annotations

import pytest

from pytest_jsleak.errors import OptionError
from pytest_jsleak.options import DEFAULTS, option_name, parse_layer, parse_option, parse_size, resolve


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (0, 0),
        (512, 512),
        ("512", 512),
        ("512B", 512),
        ("512 b", 512),
        ("2KB", 2048),
        ("2kb", 2048),
        ("2KiB", 2048),
        ("1.5KB", 1536),
        ("1MB", 1024**2),
        ("1 MB", 1024**2),
        ("2GB", 2 * 1024**3),
        (3.0, 3),
    ],
)
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("bad", ["lots", "", "-1KB", "1XB", "KB", -5, True, None, float("nan"), [1]])
def test_parse_size_rejects(bad):
    with pytest.raises(ValueError):
        parse_size(bad)


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("iterations", -5, "iterations=-5"),
        ("iterations", 0, "at least 1"),
        ("iterations", "many", "expected an integer"),
        ("warmup", -1, "warmup=-1"),
        ("max_growth_per_iteration", "lots", "max_growth_per_iteration='lots'"),
        ("runtime", "python", "expected one of node, bun, deno"),
        ("runtime_path", "", "path of an executable"),
        ("runtime_path", 5, "path of an executable"),
        ("runtime_args", "--import 'tsx", "shell"),
        ("runtime_args", ["--import", 5], "list of arguments"),
        ("runtime_args", 7, "list of arguments"),
        ("timeout", 0, "positive"),
        ("timeout", "soon", "seconds"),
        ("snapshots", "sometimes", "on-failure, always, never"),
        ("ignore", 5, "list of class names"),
    ],
)
def test_bad_values_name_option_value_and_source(name, value, fragment):
    with pytest.raises(OptionError) as info:
        parse_option(name, value, source="@pytest.mark.jsleak on test_x")
    message = str(info.value)
    assert fragment in message
    assert name in message
    assert "@pytest.mark.jsleak on test_x" in message


def test_unknown_option_lists_the_known_ones():
    with pytest.raises(OptionError, match=r"unknown jsleak option 'iteration'.*iterations"):
        parse_layer({"iteration": 5}, source="kwargs")


def test_camel_case_in_the_js_export():
    layer = parse_layer({"maxGrowthPerIteration": "1KB", "warmup": 3}, source="export", camel_case=True)
    assert layer == {"max_growth_per_iteration": 1024, "warmup": 3}
    assert option_name("max-growth-per-iteration") == "max_growth_per_iteration"


def test_ignore_accepts_lists_and_separated_text():
    assert parse_option("ignore", "Foo, Bar  (string)", source="ini") == ("Foo", "Bar", "(string)")
    assert parse_option("ignore", ["Foo"], source="marker") == ("Foo",)


def test_precedence_later_layers_win():
    ini = {"iterations": 10, "runtime": "bun"}
    cli = {"iterations": 20}
    file_export = {"iterations": 30, "warmup": 1}
    marker = {"warmup": 2}
    kwargs = {"timeout": 5.0}
    options = resolve(ini, cli, file_export, marker, kwargs)
    assert (options.iterations, options.warmup, options.runtime, options.timeout) == (30, 2, "bun", 5.0)
    assert options.snapshots == DEFAULTS.snapshots


def test_runtime_args_from_one_string_or_a_list():
    assert parse_option("runtime_args", "--import tsx", source="ini") == ("--import", "tsx")
    assert parse_option("runtime_args", "--allow-net '--title=a b'", source="cli") == ("--allow-net", "--title=a b")
    assert parse_option("runtime_args", ["--import", "tsx"], source="marker") == ("--import", "tsx")
    assert parse_option("runtime_args", "", source="ini") == ()


def test_runtime_path_and_args_layers():
    ini = parse_layer({"runtime_path": "/opt/node22/bin/node", "runtime_args": "--import tsx"}, source="ini")
    export = parse_layer({"runtimeArgs": ["--allow-net"]}, source="export", camel_case=True)
    options = resolve(ini, export)
    assert options.runtime_path == "/opt/node22/bin/node"
    assert options.runtime_args == ("--allow-net",)
    assert DEFAULTS.runtime_path is None and DEFAULTS.runtime_args == ()
