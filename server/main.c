/* mcxd — the micro-credential exchange daemon. All of it lives in libmcx. */
#include "server/mcxd.h"

int main(int argc, char **argv)
{
    return mcxd_main(argc, argv);
}
