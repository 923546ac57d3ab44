/* fuzz_conf.c - a whole configuration file, loaded as `graced --check`
 * loads it (fuzz_conf_common.h): the input is the file. */
#include "fuzz.h"
#include "fuzz_conf_common.h"

static char *path;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        fuzz_log_init();
        path = fuzz_path("graced.conf");
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        fuzz_write(path, data, size);
        fuzz_check_conf(path);
        return 0;
}
