# A script that does nothing: its bundle measures the bootloader's own start-up, the floor under every figure.
