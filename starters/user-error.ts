// A mistake the user can fix (unknown id, bad flag, server down): printed as one line, no stack.
export class UserError extends Error {}
