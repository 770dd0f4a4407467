/*
 * mcx_main.c — the `mcx` admin command; everything lives in server/cli.c.
 */
#include "server/cli.h"

int main(int argc, char **argv)
{
    return mcx_cli_main(argc, argv);
}
