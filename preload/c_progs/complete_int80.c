/* Makes a segment with the 32-bit system call (int $0x80, i386's shmget, 395) from a
 * 64-bit program, and leaves it: a call --complete does not see (its filter stops x86-64
 * calls only). Prints "seg ID" and "pid PID"; exits 1 if the kernel has no 32-bit
 * system calls (no IA32 emulation). */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/ipc.h>
#include <unistd.h>

int main(void) {
    long ret;
    long nr = 395, key = IPC_PRIVATE, size = 4096, flags = IPC_CREAT | 0600;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(key), "c"(size), "d"(flags) : "memory");
    printf("seg %ld\npid %d\n", ret, (int)getpid());
    return ret < 0;
}
