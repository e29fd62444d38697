"""Parts of the scenario simulator: story file, sea routes, motion, ground truth, NOAA files."""
