/*
 * fuzz_config.c: libFuzzer on the config.txt parser (lab/config.c): any bytes as the
 * file's text, with and without FMLAB_* overrides from the environment. It must parse
 * or report errors, never crash, overflow or leak (built with ASan and UBSan).
 * Corpus: tests/fuzz/corpus/config (config.txt and hand-made odd files).
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    /* the first line doubles as an environment override, as fmlab reads them */
    char env0[256];
    size_t n = strcspn(text, "\n");
    snprintf(env0, sizeof(env0), "FMLAB_%.*s", (int)(n < 200 ? n : 200), text);
    char *envp[] = { env0, NULL };
    struct config cfg;
    config_parse(&cfg, "fuzz.txt", text, size % 2 ? envp : NULL);
    for (int i = 0; i < 4 && cfg.n_errors == 0; i++)
        (void)config_get(&cfg, i == 0 ? "GUEST_MEM" : i == 1 ? "SRC_IP" : i == 2 ? "SHM_IMAGE_PATH" : "NOPE");
    config_free(&cfg);
    free(text);
    return 0;
}
