/**
 * `crane version`: prints the version of the program.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import { version } from "../../version.js"
import * as Output from "../Output.js"

/**
 * The `version` command.
 *
 * @since 0.1.0
 */
export const command = Command.make("version", {}, () => Output.line(version)).pipe(
  Command.withDescription("Print the version")
)
