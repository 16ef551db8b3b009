// The fd a warm Node process finds its runtime link on. Not 3: the fds node
// opens as it starts (its epoll, eventfd and signal pipe) then get the
// numbers a direct run's node gives them, from 3 on, and a tool that writes
// to fd 3 reaches what it would reach directly, not warm's link.
export const NODE_LINK_FD = 100;
