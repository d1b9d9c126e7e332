/* The key the writer and reader agree on ("RSM1"). */
#define DEMO_KEY ((key_t)0x52534d31)
#define DEMO_SIZE 4096
