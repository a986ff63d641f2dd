"""The Spark runner as a file for `spark-submit` (which runs a path, not a module):

    spark-submit --master spark://host:7077 --packages io.delta:delta-spark_4.2_2.13:4.4.0 \
      $(python -c 'import health_analytics.spark_submit as s; print(s.__file__)') once

takes the arguments of `python -m health_analytics.spark` (run|once [--now TS]) and exits with
its exit codes. spark-submit puts this file's folder first on sys.path; it is taken off, so the
package's modules are imported as health_analytics.*, never as top-level modules.
"""

import os
import sys

if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    from health_analytics.spark import main

    sys.exit(main())
