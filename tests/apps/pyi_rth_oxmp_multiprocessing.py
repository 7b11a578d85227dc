# Not oxmp's: a custom runtime hook that has the name of oxmp's hook for multiprocessing, and in its code the names
# oxmp's hook uses (tests/test_doctor.py). The doctor must not take a bundle for oxmp's because of it, nor run it.
LOOKS_LIKE = ("_oxmp_runtime", "boot")
print("IMPOSTOR-RAN", flush=True)
