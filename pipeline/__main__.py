"""`python -m pipeline` runs the straitwatch CLI."""

from pipeline.cli import main

raise SystemExit(main())
