"""Every `equity` subcommand explains itself: a description, help for every argument, and the
default of every argument that has one."""

import argparse

from orchestration.cli import build_parser


def _commands(parser, prefix=""):
    """(name, parser) of every subcommand, nested ones included ("suppress import")."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, cmd in action.choices.items():
                yield f"{prefix}{name}", cmd
                yield from _commands(cmd, f"{prefix}{name} ")


def test_every_subcommand_and_argument_has_help_and_shows_its_default():
    commands = dict(_commands(build_parser()))
    assert len([n for n in commands if " " not in n]) >= 15 and "suppress import" in commands
    for name, cmd in commands.items():
        assert cmd.description, name
        text = " ".join(cmd.format_help().split())
        for action in cmd._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            assert action.help, f"equity {name} {action.dest}"
            if action.default not in (None, False) and not action.required and action.nargs != argparse.REMAINDER:
                assert f"(default: {action.default})" in text, f"equity {name} {action.dest}"
        assert "(default: None)" not in text, name
