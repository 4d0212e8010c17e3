#!/usr/bin/env python
"""Django's command-line entry point for the builder platform."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "builder_platform.settings")
    from django.core.management import execute_from_command_line

    from builder_platform.folders import runtime_folders_create

    runtime_folders_create()
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
