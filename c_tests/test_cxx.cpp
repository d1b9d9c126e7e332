// The header from C++: the functions link with C linkage, and a RAII guard a C++ user
// would write around rshm removes and detaches what it made.
#include <rshm.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

static int passed, failed;
#define CHECK(cond, what)                                                         \
    do {                                                                          \
        if (cond)                                                                 \
            passed++;                                                             \
        else {                                                                    \
            failed++;                                                             \
            std::fprintf(stderr, "FAIL %s:%d: %s (%s)\n", __FILE__, __LINE__, what, \
                         rshm_last_error());                                      \
        }                                                                         \
    } while (0)

class Segment {
  public:
    explicit Segment(size_t size) : id_(rshm_get(IPC_PRIVATE, size, IPC_CREAT | 0600)), addr_(nullptr) {
        if (id_ >= 0) {
            void *p = rshm_at(id_, nullptr, 0);
            addr_ = p == reinterpret_cast<void *>(-1) ? nullptr : static_cast<char *>(p);
        }
    }
    ~Segment() {
        if (addr_)
            rshm_dt(addr_);
        if (id_ >= 0)
            rshm_rmid(id_);
    }
    Segment(const Segment &) = delete;
    Segment &operator=(const Segment &) = delete;
    int id() const { return id_; }
    char *data() const { return addr_; }

  private:
    int id_;
    char *addr_;
};

int main() {
    size_t before = rshm_attachment_count();
    {
        Segment s(4096);
        CHECK(s.id() >= 0 && s.data() != nullptr, "RAII segment made and attached");
        std::strcpy(s.data(), "from C++");
        CHECK(std::string(s.data()) == "from C++", "data round trip");
        CHECK(rshm_attachment_count() == before + 1, "registry sees it");
    }
    CHECK(rshm_attachment_count() == before, "destructor detached it");
    errno = 0;
    CHECK(rshm_get(IPC_PRIVATE, 0, IPC_CREAT | 0600) == -1 && errno == EINVAL, "EINVAL from C++");
    CHECK(std::string(rshm_last_error()) == "rshm_get: size 0 is below SHMMIN (1) for a new segment",
          "last error from C++");
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
