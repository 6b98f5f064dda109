# The qbert pretty-printers, for gdb started in this directory. gdb reads a local .gdbinit only from a path it
# was told is safe; once per machine (README, "Stepping through a kernel in gdb"):
#   echo "add-auto-load-safe-path $PWD/.gdbinit" >> ~/.gdbinit
source scripts/gdb/qbert_printers.py
