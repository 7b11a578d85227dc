# Not oxmp's: a custom runtime hook that merely has the name of oxmp's hook for multiprocessing
# (tests/test_doctor.py). The doctor must not take a bundle for oxmp's because of it, nor run it.
print("IMPOSTOR-RAN", flush=True)
