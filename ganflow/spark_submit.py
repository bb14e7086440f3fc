"""``ganflow generate --engine spark`` as a file ``spark-submit`` can run on a cluster:

    spark-submit --master yarn "$(python -c 'import ganflow.spark_submit as m; print(m.__file__)')" \\
      --model models:/trace-gan@champion --streams 64 --rows_per_stream 10000000 \\
      --output_synth /shared/synth --format parquet

The arguments are ``ganflow generate``'s; the session (master, executors, conf) is spark-submit's.
"""

import sys

from ganflow.cli import main

if __name__ == "__main__":
    main(["generate", "--engine", "spark", *sys.argv[1:]], prog_name="ganflow-spark-submit")
