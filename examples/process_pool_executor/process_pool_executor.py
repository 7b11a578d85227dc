"""concurrent.futures.ProcessPoolExecutor on a function from the entry script, with no freeze_support() call."""

import concurrent.futures
import multiprocessing


def is_prime(n):
    if n < 2:
        return False
    return all(n % divisor for divisor in range(2, int(n**0.5) + 1))


if __name__ == "__main__":
    numbers = range(2, 50)
    with concurrent.futures.ProcessPoolExecutor(max_workers=2) as executor:
        primes = [n for n, prime in zip(numbers, executor.map(is_prime, numbers)) if prime]
    print("start method:", multiprocessing.get_start_method())
    print("primes:", primes)
