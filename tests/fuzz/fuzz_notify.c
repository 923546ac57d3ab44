/* fuzz_notify.c - sd_notify datagrams from a worker: the input, split at
 * each FUZZ_SEP into datagrams, is sent (with this process's credentials)
 * to a real notify socket of notify_server_open(), whose reader
 * (notify_server_drain()) checks each and hands it to the worker's
 * supervisor (sup_on_notify(): READY=1, STATUS=, WATCHDOG=1, STOPPING=1),
 * as run.c does. The supervisor is a real one with fake operations: a
 * fresh one per input, whose notify worker (with a watchdog) has just
 * been started; the fake clock moves on by a second after each datagram. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "conf.h"
#include "fuzz.h"
#include "loop.h"
#include "notify.h"
#include "plan.h"
#include "sup.h"

#define FUZZ_SEP "\xff\xfe"

static const char config[] =
        "workers = (\n"
        "  { name = \"web\"; command = [\"/bin/true\"]; ready = \"notify\"; watchdog = \"3s\"; },\n"
        "  { name = \"after\"; command = [\"/bin/true\"]; after = [\"web\"]; }\n"
        ");\n";

static struct loop *loop;
static struct notify_server *srv;
static struct conf *conf;
static struct sup *cur;
static struct sockaddr_un addr;
static socklen_t addr_len;
static int tx = -1;

static void on_msg(pid_t sender, const char *msg, void *data)
{
        struct worker *w;

        if (sender != getpid())
                abort();
        w = sup_find(cur, "web");
        if (w)
                sup_on_notify(cur, w, msg);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        char *path = fuzz_path("notify.conf");
        struct conf_load_opts lo = { 0 };
        struct conf_diags d = { 0 };
        const char *a;
        int e = 0;

        fuzz_log_init();
        fuzz_write(path, config, strlen(config));
        if (conf_load(path, &lo, &conf, &d) < 0)
                abort();
        free(path);
        loop = loop_new();
        srv = loop ? notify_server_open(loop, on_msg, NULL, &e) : NULL;
        tx = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (!srv || tx < 0) {
                fprintf(stderr, "fuzz: notify socket: %s\n", strerror(e ? e : errno));
                abort();
        }
        a = notify_server_address(srv);
        addr.sun_family = AF_UNIX;
        memcpy(addr.sun_path + 1, a + 1, strlen(a) - 1); /* "@...": abstract */
        addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(a));
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct conf_diags d = { 0 };
        struct plan *p = NULL;
        struct worker *w;

        fuzz_ops_reset();
        if (plan_build(conf, &p, &d) < 0)
                abort();
        cur = sup_new(conf, p, &fuzz_ops, NULL);
        sup_start(cur);
        w = sup_find(cur, "web");
        sup_on_exec_status(cur, w, 0, NULL);
        for (;;) {
                size_t k = fuzz_split(data, size, FUZZ_SEP);

                if (sendto(tx, data, k, MSG_DONTWAIT, (struct sockaddr *)&addr, addr_len) < 0 &&
                    errno != EMSGSIZE && errno != EAGAIN) {
                        perror("fuzz: sendto");
                        abort();
                }
                notify_server_drain(srv);
                fuzz_now += USEC_PER_SEC;
                sup_on_time(cur);
                if (k == size)
                        break;
                data += k + strlen(FUZZ_SEP);
                size -= k + strlen(FUZZ_SEP);
        }
        if (!sup_counts_ok(cur))
                abort();
        cur = sup_free(cur);
        return 0;
}
