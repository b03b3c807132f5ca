/**
 * Runs the example test a newcomer copies (examples/testing/group-chat.test.ts)
 * with the suite, so that the example stays true: its tests register here.
 */
import "../../examples/testing/group-chat.test.ts"
