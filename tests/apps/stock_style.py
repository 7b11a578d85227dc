"""An app written for stock PyInstaller: freeze_support() first thing, then argparse, then a spawn pool."""

import argparse
import multiprocessing
import os


def cube(x):
    return x**3


if __name__ == "__main__":
    multiprocessing.freeze_support()
    parser = argparse.ArgumentParser()
    parser.add_argument("--method", default="spawn")
    args = parser.parse_args()
    print("MAIN-BLOCK", os.getpid(), flush=True)
    multiprocessing.set_start_method(args.method)
    with multiprocessing.Pool(2) as pool:
        print('RESULT {"cubes": %s}' % pool.map(cube, range(5)), flush=True)
