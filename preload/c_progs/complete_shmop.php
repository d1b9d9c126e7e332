<?php
// PHP's shmop (an extension PHP loads with RTLD_DEEPBIND, so its shm calls bind to libc
// itself, around the preload library): makes, writes, reads and removes a segment, and
// fails to open a missing key. Prints what each call returned, no address.
$s = shmop_open(0, "c", 0600, 4096);
echo "size ", shmop_size($s), "\n";
echo "wrote ", shmop_write($s, "shmop", 0), "\n";
echo "read ", shmop_read($s, 0, 5), "\n";
echo "delete ", var_export(shmop_delete($s), true), "\n";
unset($s);
echo "missing ", var_export(@shmop_open(0x5eed, "a", 0, 0), true), "\n";
