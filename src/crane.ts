/**
 * The high-level API of crane: each operation an Effect with typed errors.
 *
 * @since 0.1.0
 */
export * as Append from "./crane/Append.js"
export * as Auth from "./crane/Auth.js"
export * as Copy from "./crane/Copy.js"
export * as CraneError from "./crane/CraneError.js"
export * as Edit from "./crane/Edit.js"
export * as EditCommand from "./crane/EditCommand.js"
export * as Export from "./crane/Export.js"
export * as Flatten from "./crane/Flatten.js"
export * as Index from "./crane/Index.js"
export * as Inspect from "./crane/Inspect.js"
export * as Layout from "./crane/Layout.js"
export * as List from "./crane/List.js"
export * as Mutate from "./crane/Mutate.js"
export * as Options from "./crane/Options.js"
export * as Pull from "./crane/Pull.js"
export * as Push from "./crane/Push.js"
export * as Rebase from "./crane/Rebase.js"
export * as Serve from "./crane/Serve.js"
export * as Tag from "./crane/Tag.js"
export * as Transport from "./crane/Transport.js"
export * as Validate from "./crane/Validate.js"
