"""Pool.map on a function from the entry script, with no freeze_support() call: oxmp dispatches the workers."""

import multiprocessing


def square(n):
    return n * n


if __name__ == "__main__":
    with multiprocessing.Pool(2) as pool:
        squares = pool.map(square, range(10))
    print("start method:", multiprocessing.get_start_method())
    print("squares:", squares)
