pub mod bench_features;
pub mod bench_gates;
pub mod bench_lstm;
pub mod fuzz;
pub mod reproduce_table1;
