fn main() {
    std::process::exit(wireseam::app::main());
}
