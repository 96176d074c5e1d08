"""Every `equity` subcommand explains itself: a description, help for every argument, and the
default of every argument that has one."""

import argparse

from orchestration.cli import build_parser


def test_every_subcommand_and_argument_has_help_and_shows_its_default():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert len(sub.choices) >= 14
    for name, cmd in sub.choices.items():
        assert cmd.description, name
        text = " ".join(cmd.format_help().split())
        for action in cmd._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help, f"equity {name} {action.dest}"
            if action.default not in (None, False) and not action.required and action.nargs != argparse.REMAINDER:
                assert f"(default: {action.default})" in text, f"equity {name} {action.dest}"
        assert "(default: None)" not in text, name
