#include "cli/main.h"

int main(int argc, char** argv) { return ha::cli::Main(argc, argv); }
