#!/usr/bin/env bats
# ketend -n as an operator meets it: OK, or every error with file and line.

load helpers

# node_conf FILE [EXTRA_NODE_SETTING]: a school node with one gemeente partner
node_conf() {
    cat >"$1" <<CONF
node = {
  id = "school-a";
  key = "k/school-a.key";
  listen = "tcp://127.0.0.1:*";
  store = "school.db";
  control = "school.sock";
  policies = "policies";
  $2
};
partners = (
  { id = "gemeente-a"; role = "gemeente"; key = "k/gemeente-a.pub";
    endpoint = "tcp://127.0.0.1:47999"; }
);
CONF
}

setup_node() {
    keys k school-a school gemeente-a gemeente swv-a swv
    mkdir -p policies
}

@test "a valid configuration prints 'configuration OK'" {
    setup_node
    node_conf ketend.conf
    run "$KETEND" -n -c ketend.conf
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$output" = "configuration OK" ]
}

@test "an unknown setting is an error naming file and line" {
    setup_node
    node_conf ketend.conf 'colour = "blue";'
    run "$KETEND" -n -c ketend.conf
    echo "$output"
    [ "$status" -eq 1 ]
    [[ "$output" == *"ketend.conf:8: unknown setting 'node.colour'"* ]]
}

@test "a missing partner key file is an error naming the partner" {
    setup_node
    node_conf ketend.conf
    rm k/gemeente-a.pub
    run "$KETEND" -n -c ketend.conf
    echo "$output"
    [ "$status" -eq 1 ]
    [[ "$output" == *"ketend.conf:11: partner 'gemeente-a': "*"gemeente-a.pub: No such file or directory"* ]]
}

@test "a partner key that belongs to another node is refused" {
    setup_node
    node_conf ketend.conf
    cp k/swv-a.pub k/gemeente-a.pub
    run "$KETEND" -n -c ketend.conf
    echo "$output"
    [ "$status" -eq 1 ]
    [[ "$output" == *"belongs to node 'swv-a'"* ]]
}

@test "every error is reported, not just the first" {
    setup_node
    node_conf ketend.conf 'colour = "blue"; shape = 3;'
    rm k/gemeente-a.pub
    run "$KETEND" -n -c ketend.conf
    echo "$output"
    [ "$status" -eq 1 ]
    [ "$(echo "$output" | grep -c 'ketend.conf:')" -ge 3 ]
}

@test "a syntax error names the line" {
    setup_node
    node_conf ketend.conf
    printf 'broken = ;\n' >>ketend.conf
    run "$KETEND" -n -c ketend.conf
    echo "$output"
    [ "$status" -eq 1 ]
    [[ "$output" == *"ketend.conf:14: syntax error"* ]]
}

@test "a configuration file others can write is refused" {
    setup_node
    node_conf ketend.conf
    chmod 666 ketend.conf
    run "$KETEND" -n -c ketend.conf
    echo "$output"
    [ "$status" -eq 1 ]
    [[ "$output" == *"chmod go-w"* ]]
}

@test "the node's own secret key must be mode 0600" {
    setup_node
    node_conf ketend.conf
    chmod 644 k/school-a.key
    run "$KETEND" -n -c ketend.conf
    echo "$output"
    [ "$status" -eq 1 ]
    [[ "$output" == *"chmod 600"* ]]
}

@test "ketend without -c or with a bad option is a usage error" {
    run "$KETEND" -x
    [ "$status" -eq 2 ]
}
