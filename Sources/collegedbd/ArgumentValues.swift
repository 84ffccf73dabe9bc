import ArgumentParser
import CollegeDB
import Logging

// The closed sets of values the command line takes: parsed, listed in `--help`, in the man
// page and in shell completion by swift-argument-parser, from the same enums the engine uses.

extension StrategyKind: ExpressibleByArgument {}

extension ShardSettings.Durability: ExpressibleByArgument {}

extension Logger.Level: @retroactive ExpressibleByArgument {}
