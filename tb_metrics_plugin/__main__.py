"""`python -m tb_metrics_plugin`: the `tb-metrics` command line (see `tb_metrics_plugin.cli`)."""

from tb_metrics_plugin.cli import main

raise SystemExit(main())
