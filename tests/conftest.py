import os

# Tests run on the CPU with a fixed thread count, whatever the machine, so numbers repeat.
os.environ.setdefault("CNNBP_DEVICE", "cpu")
os.environ.setdefault("CPU_CORES", "2")
