"""Runs Evidently's DataDriftPreset in its own venv (pandas<3); speaks JSON lines on stdin/stdout.

Request:  {"ref": "ref.npy", "cur": "cur.npy"}
Answer:   {"seconds": 12.3, "drifted": 20, "values": {"f0": 0.05, ...}, "version": "0.7.23"}
"""

from __future__ import annotations

import json
import sys
import time


def main() -> None:
    import numpy as np
    import pandas as pd
    from evidently import Report, __version__
    from evidently.presets import DataDriftPreset

    print(json.dumps({"ready": True, "version": __version__}), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        ref_arr, cur_arr = np.load(req["ref"]), np.load(req["cur"])
        cols = [f"f{i}" for i in range(ref_arr.shape[1])]
        ref = pd.DataFrame(ref_arr, columns=cols)
        cur = pd.DataFrame(cur_arr, columns=cols)
        t = time.perf_counter()
        result = Report([DataDriftPreset()]).run(current_data=cur, reference_data=ref).dict()
        seconds = time.perf_counter() - t
        values = {}
        drifted = 0
        for m in result["metrics"]:
            if m["config"]["type"].endswith("ValueDrift"):
                values[m["config"]["column"]] = m["value"]
                drifted += m["value"] > m["config"]["threshold"]
        print(json.dumps({"seconds": seconds, "drifted": int(drifted), "values": values,
                          "version": __version__}), flush=True)


if __name__ == "__main__":
    main()
