"""Running a fleet from a desk (issue 15): what a device says about itself, and what store IT can ask of it.

- ``system``: figures the operating system knows (process memory and CPU, disk, the clock, a certificate's expiry);
- ``rates``: reader activity and its per-minute rates;
- ``figures``: one snapshot of every figure, the single source both outputs read;
- ``health``: the health message on ``dv/{device}/health``; ``metrics``: the Prometheus collector, its loopback
  listener and the node_exporter textfile;
- ``doctor*``: ``edge-agent doctor``, the checks that find what is wrong before anyone drives to the store;
- ``requests``: the desk answering the platform's requests (``request/<name>`` -> ``response/<name>``);
  ``device_requests``: the requests every device answers.
"""
