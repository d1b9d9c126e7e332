"""Shm calls through Python's ctypes.CDLL("libc.so.6"): dlopen and dlsym on libc's own
handle, around the preload library. Makes, attaches, writes, states, detaches and
removes a segment, with three failing calls. Prints what each call returned, no
address."""
import ctypes
import errno

libc = ctypes.CDLL("libc.so.6", use_errno=True)
libc.shmget.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_int]
libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
libc.shmat.restype = ctypes.c_void_p
libc.shmdt.argtypes = [ctypes.c_void_p]
libc.shmctl.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
IPC_PRIVATE, IPC_CREAT, IPC_RMID, IPC_STAT = 0, 0o1000, 0, 2


def said(what, r):
    if r == -1:
        print(what, "= -1", errno.errorcode[ctypes.get_errno()])
    else:
        print(what, "=", r)


shmid = libc.shmget(IPC_PRIVATE, 2 * 4096, IPC_CREAT | 0o600)
said("shmget", shmid)
p = libc.shmat(shmid, None, 0)
said("shmat", 0 if p != 2**64 - 1 else -1)
ctypes.memmove(p, b"ctypes", 6)
ds = ctypes.create_string_buffer(256)
said("IPC_STAT", libc.shmctl(shmid, IPC_STAT, ds))
# struct shmid_ds on x86-64: shm_segsz follows the 48 bytes of struct ipc_perm.
print("size", ctypes.c_size_t.from_buffer(ds, 48).value)
said("shmdt(p+1)", libc.shmdt(p + 1))
said("shmdt", libc.shmdt(p))
said("IPC_RMID", libc.shmctl(shmid, IPC_RMID, None))
said("shmat(removed)", -1 if libc.shmat(shmid, None, 0) in (None, 2**64 - 1) else 0)
said("shmget(missing key)", libc.shmget(0x5EED, 0, 0))
