/* fuzz_state.c - the state a graced reads after `gracectl reexec`: the
 * input is the contents of the sealed memfd. It goes through what
 * run_reexec_main() checks before it adopts anything: state_read() (head,
 * version, body), state_fdset_adopt() (the descriptors handed over: only
 * their close-on-exec flag is set, nothing is closed here) and
 * sup_adopt() (the configuration, its plan, every worker's and the
 * supervisor's state), with fake operations. So that a state's "fds" can
 * be open, as they are in a graced that reads its state, every descriptor
 * number below FUZZ_FDS that is not open already holds /dev/null (states
 * captured from a real graced name numbers such as 17-23). An adopted supervisor is
 * then dropped as one that cannot be used would be (sup_drop(): its
 * processes are forgotten, no descriptor is closed). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <json-c/json.h>

#include "conf.h"
#include "fuzz.h"
#include "state.h"
#include "sup.h"

#define FUZZ_FDS 64

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);

        fuzz_log_init();
        if (null < 0)
                abort();
        for (int fd = 3; fd < FUZZ_FDS; fd++)
                if (fcntl(fd, F_GETFD) < 0 && dup3(null, fd, O_CLOEXEC) < 0)
                        abort();
        return 0;
}

static int sealed_memfd(const uint8_t *data, size_t size)
{
        int fd = memfd_create("graced-state", MFD_CLOEXEC | MFD_ALLOW_SEALING);

        if (fd < 0 || write_all(fd, data, size) < 0 ||
            fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
                perror("fuzz: memfd");
                abort();
        }
        return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct state_proc *procs = NULL;
        struct json_object *body = NULL;
        struct state_fdset *set = NULL;
        struct state_rd rd = { 0 };
        struct conf *c = NULL;
        struct sup *s;
        size_t n = 0;
        int reply = -1, fd;
        char why[512] = "";

        fuzz_ops_reset();
        fd = sealed_memfd(data, size);
        if (state_read(fd, &procs, &n, &reply, &body, why, sizeof why) == 0) {
                set = state_fdset_adopt(body, &rd);
                s = set ? sup_adopt(body, &fuzz_ops, NULL, &c, &rd) : NULL;
                if (s) {
                        if (!sup_counts_ok(s))
                                abort();
                        sup_on_time(s);
                        sup_drop(s);
                        conf_free(c);
                } else if (!rd.bad) {
                        fprintf(stderr, "fuzz: the state was refused without a reason\n");
                        abort();
                }
                state_fdset_free(set, false);
                json_object_put(body);
        } else if (!why[0]) {
                fprintf(stderr, "fuzz: state_read() failed without a reason\n");
                abort();
        }
        free(procs);
        close(fd);
        return 0;
}
