"""A multiprocessing.Manager: worker processes fill a shared dict and list that the main process reads."""

import multiprocessing


def count_letters(shared_counts, finished, word):
    shared_counts[word] = len(word)
    finished.append(word)


if __name__ == "__main__":
    words = ["alpha", "beta", "gamma", "delta"]
    # The manager runs in a process of its own; the dict and list are proxies to objects that live there.
    with multiprocessing.Manager() as manager:
        counts, finished = manager.dict(), manager.list()
        workers = [multiprocessing.Process(target=count_letters, args=(counts, finished, word)) for word in words]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        print("letters:", dict(sorted(counts.items())))
        print("finished:", len(finished), "of", len(words))
