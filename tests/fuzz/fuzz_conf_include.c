/* fuzz_conf_include.c - a configuration with an include_dir: the input is
 * split at the first FUZZ_SEP into the main file (DIR/main.conf, which
 * names the directory, e.g. include_dir = "conf.d" or @include's it) and
 * one included file (DIR/conf.d/10-fuzz.conf); both are loaded as
 * `graced --check` loads them (fuzz_conf_common.h). Without a separator,
 * the included file is empty. */
#include "fuzz.h"
#include "fuzz_conf_common.h"

#define FUZZ_SEP "\n%%%%\n"

static char *main_path, *inc_path;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        char *d = fuzz_path("conf.d");

        fuzz_log_init();
        fuzz_mkdir(d);
        free(d);
        main_path = fuzz_path("main.conf");
        inc_path = fuzz_path("conf.d/10-fuzz.conf");
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        size_t k = fuzz_split(data, size, FUZZ_SEP);
        size_t skip = k < size ? strlen(FUZZ_SEP) : 0;

        fuzz_write(main_path, data, k);
        fuzz_write(inc_path, data + k + skip, size - k - skip);
        fuzz_check_conf(main_path);
        return 0;
}
