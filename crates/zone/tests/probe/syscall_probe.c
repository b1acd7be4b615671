/*
 * Run by tests/security.rs inside a process that inherits the zone's
 * seccomp filter: makes raw system calls, which Rust cannot make without
 * unsafe code, and prints what each returned.
 *
 *   syscall_probe NR A0 A1 A2 A3 A4 A5 [NR A0 ...]
 *       one line "NR RESULT ERRNO" per call (ERRNO 0 when it succeeded)
 *   syscall_probe i386-getpid
 *       getpid through the 32-bit x86 ABI (int 0x80); prints its result,
 *       unless the filter kills the process first
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static long arg(const char *text)
{
	return strtol(text, NULL, 0);
}

static int i386_getpid(void)
{
#if defined(__x86_64__)
	long ret;
	/* 20 is getpid in the i386 table. */
	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "a"(20L)
			 : "r8", "r9", "r10", "r11", "memory");
	printf("%ld\n", ret);
	return 0;
#else
	fprintf(stderr, "i386-getpid: not an x86_64 build\n");
	return 2;
#endif
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "i386-getpid") == 0)
		return i386_getpid();
	if (argc < 8 || (argc - 1) % 7 != 0) {
		fprintf(stderr, "usage: %s NR A0 A1 A2 A3 A4 A5 ...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i += 7) {
		long nr = arg(argv[i]);
		errno = 0;
		long ret = syscall(nr, arg(argv[i + 1]), arg(argv[i + 2]),
				   arg(argv[i + 3]), arg(argv[i + 4]),
				   arg(argv[i + 5]), arg(argv[i + 6]));
		printf("%ld %ld %d\n", nr, ret, ret == -1 ? errno : 0);
	}
	return 0;
}
