//! eBPF: instructions, programs as in-memory ELF, loading through aya.
