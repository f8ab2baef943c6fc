/* promisc: set IFF_PROMISC on an interface (what the CNI bridge plugin does)
 * and read the flags back.
 *
 *   promisc IFNAME
 *
 * Prints "set: ok" or "set: ERR <ERRNO_NAME>" for ioctl(SIOCSIFFLAGS), then
 * "promisc: yes|no" from SIOCGIFFLAGS afterwards. Exit status 1 if the
 * interface cannot be read at all.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", argv[1]);
    if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
        printf("get: ERR %s\n", strerrorname_np(errno));
        return 1;
    }
    ifr.ifr_flags |= IFF_PROMISC;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
        printf("set: ERR %s\n", strerrorname_np(errno));
    else
        printf("set: ok\n");
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
        printf("get: ERR %s\n", strerrorname_np(errno));
        return 1;
    }
    printf("promisc: %s\n", (ifr.ifr_flags & IFF_PROMISC) ? "yes" : "no");
    return 0;
}
